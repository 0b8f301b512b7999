"""TLS: the certificate store and SNI selection (`store`), the default certificate (`selfsigned`),
PEM parsing (`pem`), server contexts (`contexts`). Import the submodules; this package stays light."""

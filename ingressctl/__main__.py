from ingressctl.cli.app import main

main()

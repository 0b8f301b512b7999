from ingressctl.cli.entry import main

main()

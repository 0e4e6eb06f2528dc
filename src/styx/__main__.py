from styx.cli.app import main

main()

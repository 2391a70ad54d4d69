from infernet_kit.cli import main

main()

from linewatch.cli.main import main

main()

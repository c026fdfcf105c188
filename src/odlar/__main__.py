from odlar.cli import main

main()

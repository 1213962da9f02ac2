from smbos.cli import main

main()

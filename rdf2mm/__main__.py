from rdf2mm.cli import main

main()

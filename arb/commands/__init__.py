"""One module per ``arb`` sub-command; each defines NAME, HELP, add_arguments(parser) and run(args)."""

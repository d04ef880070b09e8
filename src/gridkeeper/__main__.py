from gridkeeper.cli.fast import run

run()

from gridkeeper.cli.main import run

run()

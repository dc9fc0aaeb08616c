"""Prints how many bad-input cases were handled, of how many run (issue 11 asks for the count)."""


def pytest_terminal_summary(terminalreporter):
    runs = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])
            if getattr(r, "when", "") == "call" and "tests/badinput/test_cli_corpus.py" in r.nodeid]
    if runs:
        handled = sum(r.passed for r in runs)
        terminalreporter.write_line(f"bad-input corpus through the CLI: {handled} handled / {len(runs)} cases")

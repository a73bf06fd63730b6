# The README's two commands, for those who prefer make; each works from a fresh clone without activating anything.
.PHONY: app test

app:  ## set up .venv (first run only) and run the app on http://localhost:8501
	scripts/app

test:  ## set up .venv with the test requirements and Chromium, then run the tests
	scripts/test

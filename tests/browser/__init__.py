"""Browser tests: the widget, the hosted page and the dashboard in Debian's headless Chromium (Playwright)."""

"""The example login app: one small app per framework, one shared page (``page.html``)."""

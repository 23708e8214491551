"""The web: pages, feeds and the JSON API side by side (app.py has the route table)."""

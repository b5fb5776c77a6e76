"""The web chat channel: an embeddable widget, a full-page chat and their websocket."""

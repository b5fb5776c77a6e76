"""The only code that writes: one transaction per action, events published after commit."""

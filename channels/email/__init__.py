"""The email channel: IMAP mailboxes and a built-in SMTP receiver in, SMTP replies out."""

"""Feedback: post-resolution surveys (CSAT), the complaints register, client segments and managers' digests."""

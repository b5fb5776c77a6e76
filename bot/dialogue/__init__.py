"""Self-service: greeting, language, FAQ answers, forms and a clean hand-off to a person.

The dialogue itself (flow.py) is a pure function of the stored state and one client message;
bot.actions.selfservice applies its outcome in one transaction, and worker.py runs it after
each commit and on start-up, so a crash between a client's message and the reply loses nothing.
"""

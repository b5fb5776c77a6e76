"""helpline: an omnichannel customer-support desk."""

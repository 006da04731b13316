"""Billing: prices, the rules of rating, rating itself, and bill runs (TMF678)."""

"""Fulfilment: product orders decomposed into service orders, carried out in the service and resource inventories."""

"""Ordering: the order lifecycle product and service orders share, and product order cancellation."""

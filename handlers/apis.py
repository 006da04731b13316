"""The spec stems of the APIs handlers serve and link to, each named once."""

from __future__ import annotations

PRODUCT_CATALOG = "tmf620_product_catalog"
PRODUCT_ORDERING = "tmf622_product_ordering"
CUSTOMER = "tmf629_customer"
SERVICE_CATALOG = "tmf633_service_catalog"
PRODUCT_INVENTORY = "tmf637_product_inventory"
SERVICE_INVENTORY = "tmf638_service_inventory"
RESOURCE_INVENTORY = "tmf639_resource_inventory"
SERVICE_ACTIVATION = "tmf640_service_activation"
SERVICE_ORDERING = "tmf641_service_ordering"
USAGE = "tmf635_usage"
USAGE_BATCHES = "tmfgate_usage"  # tmfgate's batch endpoint beside TMF635
ALARM = "tmf642_alarm"
PAYMENT = "tmf676_payment"
ACCOUNT = "tmf666_account_management"
BILL = "tmf678_bill"
TROUBLE_TICKET = "tmf621_trouble_ticket"

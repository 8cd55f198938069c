"""The local catalog: what customers see and buy (`model`), built from the config and the
providers' offers (`build`, pure), kept in step with them (`sync`), priced by `pricing`."""

from reseller.catalog.model import Catalog, LiveCatalog, Service, load

__all__ = ["Catalog", "LiveCatalog", "Service", "load"]

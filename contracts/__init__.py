"""The published language: every integration event the services publish, one module per domain.

Services import these classes, never each other. Their JSON Schemas are generated into ``contracts/schemas``
(``civic contracts export``) and checked in; a test fails when they are stale or when a change would break
a consumer of a published version.
"""

from contracts import assistance, eldercare, funeral, marriage, placenames

__all__ = ["assistance", "eldercare", "funeral", "marriage", "placenames"]

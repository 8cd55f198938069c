"""The order: placing it (`place`), its per-type rules (`rules`), every change of its state
and money (`lifecycle`, the only writer), the refund rule (`refunds`), the operator's decisions
(`resolve`) and whether an upstream order is ours (`upstream_match`)."""

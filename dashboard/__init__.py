"""xray-heal dashboard: a thin Dash front end over :mod:`dip_engine`."""

"""Analytics: the dashboard's figures, pipeline, forecast, receivables and the institutions' health score."""

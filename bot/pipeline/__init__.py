"""The durable pipeline: alerts and card sends are saq jobs in Redis that any worker process can take over."""

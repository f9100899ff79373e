"""The HTTP view of spec §8, one job per module.

``app.install_web`` builds the parts and registers their handlers: ``access`` (who may
see what), ``routing`` (the owning worker, forwarding), ``agents`` (panel reads and the
paged list), ``stream`` (SSE), ``status`` (status changes), ``operations`` (health,
readiness, metrics), ``pages`` (HTML and static files), ``responses`` (JSON, errors,
freshness headers), all typed against ``worker.WorkerView``; ``auth`` checks tokens.
"""

__all__: list[str] = []

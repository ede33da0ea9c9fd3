"""Tasks: each owns its domain (data, recipes, what its card says) and plugs into the one trainer
through the Task protocol (:class:`neurecon.train.trainer.Task`). The core never imports them;
the registry names them (:mod:`neurecon.models.registry`)."""

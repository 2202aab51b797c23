"""One module per ``unlearnstab`` sub-command (``register`` + ``run``)."""

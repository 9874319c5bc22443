"""One typed entry per torch API: its MXNet form, arguments, result kind and refusals."""

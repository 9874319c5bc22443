"""The rules' toolkit: the translation context and code builders shared by several rules."""

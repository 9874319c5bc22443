"""What the program's names and values are, computed once before any rule runs."""

"""MightyOhm Geiger counter kit: one text line a second on its 9600 baud serial header."""

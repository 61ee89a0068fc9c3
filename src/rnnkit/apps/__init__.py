"""The applications of the course text's §5, each a module: data -> model -> metrics."""

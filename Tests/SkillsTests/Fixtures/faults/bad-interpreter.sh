#!/nonexistent/interpreter
# A script whose interpreter does not exist: execve fails with ENOENT.

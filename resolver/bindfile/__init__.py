"""RFC 1035 master files ("BIND zone files"): read them into entries, convert them to and
from this project's zone format (`policydns import bind`, `policydns export bind`)."""

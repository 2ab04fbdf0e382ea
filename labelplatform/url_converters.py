"""Path converters shared by every URL configuration (registered by labelplatform.apps)."""

# Primary keys are BigAutoField: a larger number names no row, and reaches no database
# (SQLite cannot bind it, PostgreSQL answers "out of range").
DATABASE_ID_MAX = 2**63 - 1


class DatabaseIdConverter:
    """`<id:name>`: a primary key in the URL. A number no row can have does not match, so
    the answer is the usual 404 instead of a database error."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > DATABASE_ID_MAX:
            raise ValueError(f"{value} is larger than any primary key")
        return number

    def to_url(self, value: int) -> str:
        return str(value)

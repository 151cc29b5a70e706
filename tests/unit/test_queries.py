from cpa.db.queries import load, parse


def test_parse_splits_named_statements() -> None:
    source = "-- name: get_a\n-- Get a.\nselect 1;\n\n-- name: put_b\ninsert into b values ($1);\n"
    queries = parse("demo", source)
    assert [(q.name, q.description, q.text) for q in queries] == [
        ("get_a", "Get a.", "select 1"),
        ("put_b", "", "insert into b values ($1)"),
    ]


def test_names_are_verb_noun_and_unique() -> None:
    for name in load():
        assert "_" in name, name

from custom_providers.codex.tool_names import LIMIT, restore_name, shorten_names


def test_short_names_are_left_alone():
    assert shorten_names(["read", "x" * LIMIT]) == {}


def test_mcp_names_keep_prefix_and_tool():
    long = "mcp__" + "server" * 12 + "__read_file"
    assert shorten_names([long]) == {long: "mcp__read_file"}


def test_other_names_are_truncated_to_the_limit():
    long = "t" * 100
    assert shorten_names([long]) == {long: "t" * LIMIT}


def test_collisions_get_numbered_suffixes_within_the_limit():
    a, b, c = "a" * 70, "a" * 71, "a" * 72
    mapping = shorten_names([a, b, c])
    assert mapping == {a: "a" * 64, b: "a" * 62 + "_1", c: "a" * 62 + "_2"}
    assert all(len(v) <= LIMIT for v in mapping.values())


def test_a_shortened_name_never_takes_an_existing_short_name():
    existing = "mcp__read"
    long = "mcp__" + "s" * 70 + "__read"
    mapping = shorten_names([long, existing])
    assert mapping[long] == "mcp__read_1"


def test_restore_round_trip():
    names = ["mcp__" + "s" * 70 + "__read", "w" * 90, "plain"]
    back = {short: long for long, short in shorten_names(names).items()}
    assert [restore_name(shorten_names(names).get(n, n), back) for n in names] == names

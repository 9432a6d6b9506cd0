from custom_providers.codex.token_count import count_tokens, encoding_for, has_offline_encoding

BODY = {
    "system": [{"type": "text", "text": "You are a careful coding agent."}],
    "messages": [
        {"role": "user", "content": "Read the README and summarise it."},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read", "input": {"path": "README.md"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "# subgate\nA gateway."}]},
    ],
    "tools": [{"name": "read", "description": "Read a file", "input_schema": {"type": "object"}}],
}


def test_both_encodings_have_a_verified_offline_copy():
    assert has_offline_encoding("o200k_base") and has_offline_encoding("cl100k_base")


def test_gpt5_counts_with_o200k_and_other_models_with_cl100k():
    assert encoding_for("gpt-5.1-codex").name == "o200k_base"
    assert encoding_for("chatgpt/gpt-5").name == "o200k_base"
    assert encoding_for("claude-sonnet-4-5").name == "cl100k_base"
    text = "You are a careful coding agent. Read the README and summarise it."
    for model in ("gpt-5.1-codex", "claude-sonnet-4-5"):
        assert count_tokens({"system": text, "messages": []}, model) == len(encoding_for(model).encode(text))


def test_count_grows_with_every_part_the_model_reads():
    base = count_tokens(BODY, "gpt-5.1-codex")
    more_tools = dict(BODY, tools=BODY["tools"] + [{"name": "write", "description": "Write a file with content",
                                                     "input_schema": {"type": "object"}}])
    assert count_tokens(more_tools, "gpt-5.1-codex") > base > 20
    assert count_tokens({"messages": []}, "gpt-5.1-codex") == 0

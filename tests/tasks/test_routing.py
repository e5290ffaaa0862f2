from tasks.routing import brokerage_queue, group_from_queue, group_queue, serves_group


def test_worker_shards_by_name_glob_or_none():
    assert serves_group("family", ())
    assert serves_group("fam-1", ("fam-*", "club"))
    assert not serves_group("club2", ("fam-*", "club"))
    assert not serves_group("family", ("-",))


def test_queue_names():
    assert group_queue("family") == "group.family"
    assert brokerage_queue("chase") == "brokerage.chase"
    assert group_from_queue("group.family") == "family"
    assert group_from_queue("brokerage.chase") is None

"""People (网格员, reporters, contacts): synthetic names and phone numbers, and members.csv."""
from __future__ import annotations

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜"
                "叶程苏魏吕丁任沈姚卢钟谭陆范廖贾夏付方邹熊秦江雷龙")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰建国红梅春燕文斌志鹏海波晓琴琳"
             "婷宇浩俊凤德福云飞成刚辉丹林蓉慧莉")


def _person(rng):
    given = "".join(rng.choice(GIVEN, size=int(rng.choice([1, 2], p=[.3, .7]))))
    return str(rng.choice(SURNAMES)) + given


def _mobile(rng, used):
    while True:
        p = f"1{rng.choice(list('3456789'))}{int(rng.integers(0, 10**9)):09d}"
        if p not in used:
            used.add(p)
            return p


def _landline(rng):
    return f"0813-{int(rng.integers(2000000, 8999999))}"


# --------------------------------------------------------------------------------------------
# people: grid members (网格员)

def build_members(rng, grids, n_shared=12):
    """Rows of members.csv: one lead per grid, 2-4 members per grid, a few members in two grids."""
    role_order = ["lead", "publicity", "security", "mediator"]
    phones, people, slots = set(), [], []
    for props, _ in grids:
        k = int(rng.integers(2, 5))
        grid_slots = []
        for i in range(k):
            people.append((_person(rng), _mobile(rng, phones)))
            extra = [str(r) for r in rng.choice(role_order[1:], size=int(rng.choice([1, 2], p=[.75, .25])),
                                                replace=False)]
            roles = (["lead"] + extra[:1] if rng.random() < .35 else ["lead"]) if i == 0 else extra
            grid_slots.append([len(people) - 1, roles])
        slots.append((props["code"], grid_slots))
    # A few members also serve the next grid of the same community (never as its lead).
    candidates = [i for i in range(1, len(slots)) if slots[i][0][:12] == slots[i - 1][0][:12]
                  and len(slots[i][1]) >= 3]
    for i in sorted(rng.choice(candidates, size=min(n_shared, len(candidates)), replace=False)):
        donor = slots[i - 1][1][int(rng.integers(len(slots[i - 1][1])))][0]
        slots[i][1][-1][0] = donor
    ids, rows = {}, []
    for code, grid_slots in slots:
        for person, roles in grid_slots:
            mid = ids.setdefault(person, f"M{len(ids) + 1:05d}")
            name, phone = people[person]
            rows.append({"member_id": mid, "name": name, "phone": phone, "grid_code": code,
                         "roles": ";".join(r for r in role_order if r in roles)})
    rows.sort(key=lambda r: (r["member_id"], r["grid_code"]))
    return rows



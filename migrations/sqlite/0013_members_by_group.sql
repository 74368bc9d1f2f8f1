-- A group's members and a role's users in user-id order straight from an index, so the console
-- pages a group of 100k members (`WHERE group_id = ? ORDER BY user_id LIMIT … OFFSET …`) and
-- counts it without reading the membership rows themselves. The composite indexes replace the
-- single-column ones (they serve every lookup those did, the cascades included).
DROP INDEX group_members_group;
CREATE INDEX group_members__group_user ON group_members (group_id, user_id);
DROP INDEX user_roles_role;
CREATE INDEX user_roles__role_user ON user_roles (role_id, user_id);

// Permissions of the example app, in the Ory Permission Language.
//
// Subjects are `User:<identity id>`. A group's members may be users or the members of
// another group; documents have owners, editors and viewers, where editors and viewers may
// also be whole groups (`Group:<id>#members`).
import { Namespace, Context } from "@ory/keto-namespace-types"

class User implements Namespace {}

class Group implements Namespace {
  related: {
    members: (User | SubjectSet<Group, "members">)[]
  }
}

class Document implements Namespace {
  related: {
    owners: User[]
    editors: (User | SubjectSet<Group, "members">)[]
    viewers: (User | SubjectSet<Group, "members">)[]
  }

  permits = {
    // Owners may share; whoever may share may edit; whoever may edit may view.
    share: (ctx: Context): boolean => this.related.owners.includes(ctx.subject),
    edit: (ctx: Context): boolean =>
      this.related.editors.includes(ctx.subject) || this.permits.share(ctx),
    view: (ctx: Context): boolean =>
      this.related.viewers.includes(ctx.subject) || this.permits.edit(ctx),
  }
}

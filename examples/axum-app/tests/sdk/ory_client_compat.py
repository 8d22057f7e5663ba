"""Drives the example app with the official Ory Python clients.

Usage: ory_client_compat.py PUBLIC_URL ADMIN_URL KETO_READ_URL KETO_WRITE_URL NAMESPACE

The identity schema has `email` and `name` traits; NAMESPACE has a `viewers` relation of
`User` subjects and a `view` permission.

The clients validate every response against their generated models, so a field of the wrong
type or a missing required field fails here. Prints one line per step; exits non-zero on the
first mismatch.
"""

import sys
import uuid

import ory_keto_client as keto
import ory_kratos_client as kratos
from ory_kratos_client.exceptions import ApiException


def step(name):
    print(f"ok: {name}", flush=True)


def main():
    public, admin, keto_read, keto_write, namespace = sys.argv[1:6]
    email = f"sdk-{uuid.uuid4().hex}@example.com"
    password = "correct horse battery staple 42"

    with kratos.ApiClient(kratos.Configuration(host=public)) as client:
        fe = kratos.FrontendApi(client)

        flow = fe.create_native_registration_flow()
        assert flow.type == "api", flow.type
        assert any(n.attributes.actual_instance.name == "traits.email" for n in flow.ui.nodes)
        step("create_native_registration_flow")

        body = kratos.UpdateRegistrationFlowBody(
            kratos.UpdateRegistrationFlowWithPasswordMethod(
                method="password", password=password, traits={"email": email, "name": "Ada SDK"}
            )
        )
        registered = fe.update_registration_flow(flow=flow.id, update_registration_flow_body=body)
        assert registered.identity.traits["email"] == email
        identity_id = registered.identity.id
        step("update_registration_flow")

        fetched = fe.get_registration_flow(id=fe.create_native_registration_flow().id)
        assert fetched.state == "choose_method", fetched.state
        step("get_registration_flow")

        login = fe.create_native_login_flow()
        wrong = kratos.UpdateLoginFlowBody(
            kratos.UpdateLoginFlowWithPasswordMethod(
                method="password", identifier=email, password="not the password"
            )
        )
        try:
            fe.update_login_flow(flow=login.id, update_login_flow_body=wrong)
            raise AssertionError("a wrong password signed in")
        except ApiException as e:
            assert e.status == 400, e.status
        step("update_login_flow with a wrong password answers 400")

        login = fe.create_native_login_flow()
        right = kratos.UpdateLoginFlowBody(
            kratos.UpdateLoginFlowWithPasswordMethod(
                method="password", identifier=email, password=password
            )
        )
        done = fe.update_login_flow(flow=login.id, update_login_flow_body=right)
        token = done.session_token
        assert token.startswith("ory_st_")
        assert done.session.identity.id == identity_id
        step("update_login_flow")

        session = fe.to_session(x_session_token=token)
        assert session.active and session.identity.id == identity_id
        assert session.authenticator_assurance_level == "aal1"
        step("to_session (whoami)")

        sessions = fe.list_my_sessions(x_session_token=token)
        assert all(s.id != session.id for s in sessions)
        step("list_my_sessions")

        settings = fe.create_native_settings_flow(x_session_token=token)
        assert settings.identity.id == identity_id and settings.state == "show_form"
        step("create_native_settings_flow")

        fe.perform_native_logout(
            perform_native_logout_body=kratos.PerformNativeLogoutBody(session_token=token)
        )
        try:
            fe.to_session(x_session_token=token)
            raise AssertionError("a revoked session is still valid")
        except ApiException as e:
            assert e.status == 401, e.status
        step("perform_native_logout")

    with kratos.ApiClient(kratos.Configuration(host=admin)) as client:
        ids = kratos.IdentityApi(client)
        got = ids.get_identity(id=identity_id)
        assert got.traits["email"] == email
        listed = ids.list_identities(credentials_identifier=email)
        assert [i.id for i in listed] == [identity_id]
        step("admin get_identity / list_identities")

    with keto.ApiClient(keto.Configuration(host=keto_write)) as client:
        rel = keto.RelationshipApi(client)
        rel.create_relationship(
            create_relationship_body=keto.CreateRelationshipBody(
                namespace=namespace,
                object="readme",
                relation="viewers",
                subject_set=keto.SubjectSet(namespace="User", object=identity_id, relation=""),
            )
        )
        step("keto create_relationship")

    with keto.ApiClient(keto.Configuration(host=keto_read)) as client:
        perm = keto.PermissionApi(client)
        def check(subject, or_error=False):
            call = perm.check_permission_or_error if or_error else perm.check_permission
            return call(
                namespace=namespace,
                object="readme",
                relation="view",
                subject_set_namespace="User",
                subject_set_object=subject,
                subject_set_relation="",
            )

        assert check(identity_id).allowed is True
        assert check(str(uuid.uuid4())).allowed is False
        try:
            check(str(uuid.uuid4()), or_error=True)
            raise AssertionError("a stranger may view")
        except keto.exceptions.ApiException as e:
            assert e.status == 403, e.status
        rels = keto.RelationshipApi(client).get_relationships(namespace=namespace, object="readme")
        assert [t.subject_set.object for t in rels.relation_tuples] == [identity_id]
        step("keto check_permission / get_relationships")


if __name__ == "__main__":
    main()

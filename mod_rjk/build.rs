//! Bindings to Debian's httpd/APR headers (apache2-dev), found through `apxs -q` (override
//! with APXS=/path/to/apxs). Only what the module uses is generated.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn apxs(var: &str) -> String {
    let apxs = env::var("APXS").unwrap_or_else(|_| "apxs".into());
    let out = Command::new(&apxs)
        .args(["-q", var])
        .output()
        .unwrap_or_else(|e| panic!("running `{apxs} -q {var}` (install apache2-dev): {e}"));
    assert!(
        out.status.success(),
        "`{apxs} -q {var}` failed: install apache2-dev"
    );
    String::from_utf8(out.stdout)
        .expect("apxs output")
        .trim()
        .to_string()
}

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-env-changed=APXS");
    let include = apxs("INCLUDEDIR");
    let apr_include = apxs("APR_INCLUDEDIR");
    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args([
            format!("-I{include}"),
            format!("-I{apr_include}"),
            "-DLINUX".into(),
            "-D_REENTRANT".into(),
            "-D_GNU_SOURCE".into(),
        ])
        .allowlist_type("request_rec|module|command_rec|cmd_parms|cmd_how|ap_conf_vector_t|server_rec|conn_rec|process_rec|apr_table_entry_t|apr_array_header_t|core_server_config")
        .allowlist_function("ap_hook_(handler|post_config|check_config|child_init|translate_name|map_to_storage|log_transaction)")
        .allowlist_function("ap_(rwrite|rflush|pass_brigade|filter_flush|fflush|set_content_type|set_content_length|get_module_config|set_module_config|add_version_component|setup_client_block|should_client_block|get_client_block|server_root_relative|mpm_query|get_server_name|get_server_port|log_error_|log_rerror_|check_cmd_context|discard_request_body|get_server_banner|getword_conf|escape_uri|get_remote_host|get_useragent_host)")
        .allowlist_function("apr_(table_(set|setn|get|add|addn|unset|elts|make|copy)|brigade_(create|write|cleanup)|pstrdup|pstrndup|palloc|pool_cleanup_register|pool_cleanup_null|pool_userdata_get|pool_userdata_set)")
        .allowlist_var("MODULE_MAGIC_.*|APR_HOOK_.*|OK|DECLINED|DONE|OR_.*|ACCESS_CONF|RSRC_CONF|APLOG_.*|HTTP_.*|AP_MPMQ_.*|APR_SUCCESS|GLOBAL_ONLY|NOT_IN_.*|M_.*|REQUEST_CHUNKED_.*")
        .default_macro_constant_type(bindgen::MacroTypeVariation::Signed)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .generate()
        .expect("generating httpd bindings");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("httpd.rs");
    bindings.write_to_file(out).expect("writing bindings");
}

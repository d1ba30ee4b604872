//! `#[backends]` turns one test function into two tests, `name::sqlite` and
//! `name::postgres`, which run the same body with the metadata store of their
//! name (DESIGN §11: every behaviour is checked on both databases by the same
//! tests). The body picks its store up through `crate::helpers::Backend`.

use proc_macro::TokenStream;
use quote::quote;
use syn::{ItemFn, parse_macro_input};

#[proc_macro_attribute]
pub fn backends(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[backends] takes no arguments",
        )
        .to_compile_error()
        .into();
    }
    let function = parse_macro_input!(item as ItemFn);
    let name = &function.sig.ident;
    // Attributes meant for the test (`#[ignore]`, `#[should_panic]`) go on both.
    let (test_attrs, fn_attrs): (Vec<_>, Vec<_>) = function
        .attrs
        .iter()
        .partition(|a| a.path().is_ident("ignore") || a.path().is_ident("should_panic"));
    let vis = &function.vis;
    let sig = &function.sig;
    let block = &function.block;
    quote! {
        #(#fn_attrs)*
        #vis #sig #block

        mod #name {
            #[test]
            #(#test_attrs)*
            fn sqlite() {
                crate::helpers::Backend::Sqlite.run(super::#name)
            }

            #[test]
            #(#test_attrs)*
            fn postgres() {
                crate::helpers::Backend::Postgres.run(super::#name)
            }
        }
    }
    .into()
}

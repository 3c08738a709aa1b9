//! `lb_mult`: each member's weight turned into its increment, so that lower lb_value wins and
//! a member with twice the factor accumulates half as fast (mod_jk: lb_value and lb_mult).

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `LCM(all factors) / factor` for each factor (factors below 1 count as 1). The LCM saturates
/// rather than overflowing on absurd factor sets.
pub fn lb_mults(factors: &[u32]) -> Vec<u64> {
    let lcm = factors.iter().fold(1u64, |acc, &f| {
        let f = u64::from(f.max(1));
        (acc / gcd(acc, f)).saturating_mul(f)
    });
    factors.iter().map(|&f| lcm / u64::from(f.max(1))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mults_from_the_lcm() {
        assert_eq!(lb_mults(&[1, 2, 3]), vec![6, 3, 2]);
        assert_eq!(lb_mults(&[1, 1]), vec![1, 1]);
        assert_eq!(lb_mults(&[4, 6]), vec![3, 2]);
        assert_eq!(lb_mults(&[0, 2]), vec![2, 1]);
        assert_eq!(lb_mults(&[100]), vec![1]);
    }
}
